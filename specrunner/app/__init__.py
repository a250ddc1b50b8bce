"""The use cases behind the commands, one module each, and the one error funnel.

`cli` parses options and calls one of these; each takes plain values and returns a result
or raises a SpecrunnerError, which `guard` turns into an exit code and one message. Import the
module of the use case you need (`from specrunner.app import checking`): this package
imports none of them, and each imports its stages inside its functions, so that a command
loads only what it needs (start-up time).

- `funnel`: `guard`, crash reports.
- `checking`: `specrunner validate`.
- `planning`: `PlanRequest` (the selection record) and `specrunner plan`.
- `running`, `run_dir`, `clients`: `specrunner run` and `specrunner.run`.
- `reports`: a run's reports, `specrunner report` and `specrunner merge`.
- `starter`: `specrunner init` and `specrunner schema`.
- `serve`: `specrunner emulator`.
"""
