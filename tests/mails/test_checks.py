"""mails.W001: production warned while mails would be sent inside the checkout's request."""

from django.core.checks.registry import registry

from mails.checks import check_mail_is_queued

IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
QUEUED = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def test_the_check_runs_with_the_deployment_checks_only():
    assert check_mail_is_queued in registry.get_checks(include_deployment_checks=True)
    assert check_mail_is_queued not in registry.get_checks(include_deployment_checks=False)


def test_immediate_tasks_are_warned(settings):
    settings.TASKS = IMMEDIATE
    assert [message.id for message in check_mail_is_queued()] == ["mails.W001"]


def test_a_queue_with_a_worker_passes(settings):
    settings.TASKS = QUEUED
    assert check_mail_is_queued() == []
