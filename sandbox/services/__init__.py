"""What the sandbox does, apart from HTTP: Omise's test-mode rules on the sandbox's models.

Views parse requests and call these keyword-only functions; a rule broken raises
`SandboxError` (`common`), which the views turn into Omise's error object. Every state change
records an event (charge.create, charge.complete, …) that is delivered as a signed webhook
(`events`). One module per resource: `tokens`, `sources`, `charges`, `refunds`, `account`,
`events`; and the test hooks `faults` and `keys`. Callers import from the module that owns a
function; this package re-exports nothing.
"""
