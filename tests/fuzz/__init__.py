"""Fuzzing specrunner's front door: suites, templates and options it must refuse cleanly.

`strategies` makes the inputs (hypothesis strategies and a few fixed cases), `harness` runs
`specrunner validate` and `plan` on them and says what went wrong. The tests here run a
small, fixed budget of examples; `bench/fuzz.py` runs the same strategies for longer.
"""
