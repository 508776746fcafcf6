from django.apps import AppConfig


class MailsConfig(AppConfig):
    name = "mails"
    verbose_name = "E-mail outbox"
