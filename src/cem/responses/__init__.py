"""Surveys answered: hosted pages, starting, submitting and resuming responses, answers."""
