from django.apps import AppConfig


class MailsConfig(AppConfig):
    name = "mails"
    verbose_name = "E-mail outbox"

    def ready(self) -> None:
        from mails import checks  # noqa: F401 - registers the system checks
