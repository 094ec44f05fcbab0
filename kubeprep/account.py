"""Whether an admin account already is what the data asks for, from one ``AdminAccount`` fact."""

from __future__ import annotations

from collections.abc import Mapping

from kubeprep.settings import Settings


def account_converged(account: Mapping, settings: Settings, sudo_group: str) -> bool:
    """True when ``server.user`` would change nothing: entry, shell, home owner, password hash,
    sudo group, and the keys with the ``~/.ssh`` (700) and ``authorized_keys`` (600) modes."""
    user = settings.admin_user
    if not account["passwd"]:
        return False
    home, shell = account["passwd"][5], account["passwd"][6]
    owners = account["owners"]
    if shell != settings.admin_shell or not owners.get(home, "").startswith(f"{user} "):
        return False
    if settings.admin_password_hash and account["password"] != settings.admin_password_hash:
        return False
    if settings.admin_sudo and sudo_group not in account["groups"]:
        return False
    if settings.admin_ssh_keys:
        installed = {key.strip() for key in account["authorized_keys"]}
        if owners.get(f"{home}/.ssh") != f"{user} 700" \
                or owners.get(f"{home}/.ssh/authorized_keys") != f"{user} 600" \
                or not {key.strip() for key in settings.admin_ssh_keys} <= installed:
            return False
    return True
