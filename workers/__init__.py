"""Background jobs: plain functions taking ids, run by rq workers or the in-process runner."""
