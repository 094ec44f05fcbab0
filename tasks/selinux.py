"""selinux: the mode from data (permissive by default) now and in /etc/selinux/config."""

from fleet.hosts import checked_host
from operations import selinux

checked = checked_host()
if checked:
    settings, _ = checked
    selinux.mode(name=f"SELinux {settings.selinux_mode}", mode=settings.selinux_mode)
