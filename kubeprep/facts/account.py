"""The admin account as it stands: its passwd entry, password hash, groups, the owners and modes
of its home and ~/.ssh, and its authorized keys (``AdminAccount``); the one ``getent passwd``
read (``passwd_entry``) that KubeadmNode shares."""

from __future__ import annotations

from pyinfra.api import FactBase, StringCommand
from pyinfra.api.command import QuoteString
from typing_extensions import TypedDict, override

from kubeprep.facts import marked_sections

_SECTIONS = ("passwd", "shadow", "groups", "owners", "keys")


def passwd_entry(user: str) -> StringCommand:
    """Set ``$entry`` to ``user``'s passwd entry (``getent``: files, LDAP, SSSD) and ``$home`` to
    its home directory; both empty for a user that does not exist."""
    return StringCommand(
        "entry=$(getent passwd", QuoteString(user), ');',
        'home=$(echo "$entry" | cut -d: -f6);',
    )


class AdminAccountDict(TypedDict):
    passwd: list[str] | None  # the 7 fields of the passwd entry
    password: str | None  # the hash in /etc/shadow
    groups: list[str]
    owners: dict[str, str]  # path -> "user mode" for the home, ~/.ssh and authorized_keys
    authorized_keys: list[str]


class AdminAccount(FactBase[AdminAccountDict]):
    """
    Returns one user's passwd entry, password hash, groups, the owner and mode of its home,
    ``~/.ssh`` and ``authorized_keys``, and its authorized keys, in one round trip, so a
    converged account is confirmed without pyinfra's slower ``server.Users`` fact.

    + user: the user name

    .. code:: python

        {
            "passwd": ["kubeadmin", "x", "1000", "1000", "", "/home/kubeadmin", "/bin/bash"],
            "password": "$6$...",
            "groups": ["kubeadmin", "wheel"],
            "owners": {"/home/kubeadmin": "kubeadmin 700"},
            "authorized_keys": ["ssh-ed25519 AAAA... me@laptop"],
        }
    """

    @override
    @staticmethod
    def default() -> AdminAccountDict:
        return {"passwd": None, "password": None, "groups": [], "owners": {},
                "authorized_keys": []}

    @override
    def command(self, user: str) -> StringCommand:
        name = QuoteString(user)
        return StringCommand(
            passwd_entry(user), '[ -n "$entry" ] || exit 0;',
            'echo "--- passwd"; echo "$entry";',
            'echo "--- shadow"; getent shadow', name, "| cut -d: -f2;",
            'echo "--- groups"; id -Gn', name, ";",
            'echo "--- owners"; stat -c "%n %U %a" "$home" "$home/.ssh"',
            '"$home/.ssh/authorized_keys" 2>/dev/null;',
            'echo "--- keys"; cat "$home/.ssh/authorized_keys" 2>/dev/null; true',
        )

    @override
    def process(self, output) -> AdminAccountDict:
        fact = self.default()
        sections = dict(marked_sections(output, "", _SECTIONS))
        if not sections.get("passwd"):
            return fact
        fact["passwd"] = sections["passwd"][0].split(":")
        fact["password"] = next(iter(sections.get("shadow", [])), None) or None
        fact["groups"] = " ".join(sections.get("groups", [])).split()
        for line in sections.get("owners", []):
            path, owner, mode = line.rsplit(" ", 2)
            fact["owners"][path] = f"{owner} {mode}"
        fact["authorized_keys"] = [key for key in sections.get("keys", []) if key.strip()]
        return fact
