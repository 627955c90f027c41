"""The stateless reference app: a web API (create_app in app.main) and its SQS worker (app.worker)."""
