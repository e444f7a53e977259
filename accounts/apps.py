from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from accounts.events import signed_out

        # Every way out (the API, the sign-out page, the admin) ends in logout().
        user_logged_out.connect(signed_out, dispatch_uid="accounts.signed_out")
