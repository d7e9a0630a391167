"""Generic building blocks every area uses: database, clock, audit, rendering, security, the task
queue (``tasks``) and background jobs (``jobs``)."""
