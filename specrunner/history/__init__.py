"""The local history of runs: each finished run's and merge's report, summed up per cell,
so that `specrunner history` and the HTML report's charts can look back over earlier runs.

`entries` turns a report into what is recorded, `store` is the interface callers use,
`sqlite` the one implementation of it, `trends` reads a suite's history (pass rates and the
cells that flip), `view` lays that out as text or JSON.
"""
