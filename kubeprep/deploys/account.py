"""account: the non-root admin user, with a crypt(3) password hash and SSH keys from data."""

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import server

from kubeprep.account import account_converged
from kubeprep.facts.account import AdminAccount
from kubeprep.fleet.hosts import checked_host
from kubeprep.keys import deploy_defaults

SUDO_GROUP = {"rhel": "wheel", "debian": "sudo"}


@deploy("Admin account", data_defaults=deploy_defaults())
def account() -> None:
    """
    The admin user of ``admin_user``, ``admin_password_hash``, ``admin_ssh_keys``,
    ``admin_sudo`` and ``admin_shell`` (the host's data, else their defaults).

    **Example:**

    .. code:: python

        from kubeprep.deploys.account import account

        account(_sudo=True)
    """
    checked = checked_host()
    if not checked:
        return
    settings, platform = checked
    sudo_group = SUDO_GROUP[platform.family]

    def account_differs() -> bool:
        # At run time, one round trip decides; server.user reads five facts (one slow).
        account = host.get_fact(AdminAccount, user=settings.admin_user)
        return not account_converged(account, settings, sudo_group)

    server.user(
        name=f"Admin user {settings.admin_user}",
        user=settings.admin_user,
        password=settings.admin_password_hash,
        shell=settings.admin_shell,
        groups=[sudo_group] if settings.admin_sudo else None,
        append=True,
        public_keys=list(settings.admin_ssh_keys) or None,
        create_home=True,
        _if=account_differs,
    )
