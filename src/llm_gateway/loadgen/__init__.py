"""``llm-gateway loadgen``: open-loop traffic against a gateway, for demos and drills.

* :mod:`.plan` decides what to send and when: the request mix and the arrival schedule.
* :mod:`.client` is the only module that talks to ``httpx``: it sends one request, reads
  the response (streamed or not) and turns whatever happened into a :class:`.Result`.
* :mod:`.runner` keeps the schedule, caps the requests in flight and reports progress.
* :mod:`.report` turns results into the summary, as text or JSON.

Faults travel as the ``X-Simulator-Fault`` request header, which the gateway forwards to
its upstream only when that upstream is the simulator.
"""
