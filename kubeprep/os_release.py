"""Which hosts are the RHEL family, from /etc/os-release's ID and ID_LIKE: one rule for the
readiness fact (the CNI plugins directory it lists), the node checks (dnf or apt in a fix) and
the supported platforms (kubeprep.settings, a platform's family)."""

from __future__ import annotations

# The os-release names of the RHEL family, in ID or ID_LIKE: RHEL, Rocky and AlmaLinux (whose
# ID_LIKE names rhel), and CentOS, Fedora and Oracle Linux, which install with dnf too.
RHEL_FAMILY = ("rhel", "rocky", "almalinux", "centos", "fedora", "ol")


def is_rhel_family(os_id: str, id_like: str) -> bool:
    """Whether os-release's ``ID`` or one of the words of ``ID_LIKE`` is in ``RHEL_FAMILY``."""
    return bool({os_id, *id_like.split()} & set(RHEL_FAMILY))


def rhel_family_case() -> str:
    """The shell ``case`` pattern that matches ``" $ID $ID_LIKE "`` as is_rhel_family() does."""
    return "|".join(f'*" {name} "*' for name in RHEL_FAMILY)
