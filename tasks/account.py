"""account: the non-root admin user, with a crypt(3) password hash and SSH keys from data."""

from pyinfra.operations import server

from kubeprep.prepare import checked_host

SUDO_GROUP = {"rhel": "wheel", "debian": "sudo"}

checked = checked_host()
if checked:
    settings, platform = checked
    server.user(
        name=f"Admin user {settings.admin_user}",
        user=settings.admin_user,
        password=settings.admin_password_hash,
        shell=settings.admin_shell,
        groups=[SUDO_GROUP[platform.family]] if settings.admin_sudo else None,
        append=True,
        public_keys=list(settings.admin_ssh_keys) or None,
        create_home=True,
    )
