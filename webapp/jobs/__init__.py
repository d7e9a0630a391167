"""Background jobs' pages: a job's progress, result and file (``/jobs/<id>``), and the list of
one's own jobs (``/jobs``). The jobs themselves live in ``core.jobs``; the page that starts a job
sends its user here."""
