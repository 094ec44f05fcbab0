"""kubeprep.account.account_converged: when the account task may skip pyinfra's server.user."""

from __future__ import annotations

import copy

import pytest
from taskrun import group_data

from kubeprep.account import account_converged
from kubeprep.settings import settings_from_data

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG+rEh6qCSFgDix0+YcLnwRqaPrOp/W5YCbD7Rj8opi+ kubeprep-lab"
HASH = "$6$kubeprepLab0$V96wC4ATBtpdJ1cBAbLVzMjfyyL62mYb2IQTdavx39A.wD/D46YZoOyfBuh9pTfEUOOuYQJHfsFck0Q7XSzYU/"
# AdminAccount as read on the lab's cp1 after the deploy.
CONVERGED = {
    "passwd": ["kubeadmin", "x", "1000", "1000", "", "/home/kubeadmin", "/bin/bash"],
    "password": HASH,
    "groups": ["kubeadmin"],
    "owners": {
        "/home/kubeadmin": "kubeadmin 755",
        "/home/kubeadmin/.ssh": "kubeadmin 700",
        "/home/kubeadmin/.ssh/authorized_keys": "kubeadmin 600",
    },
    "authorized_keys": [KEY],
}


def settings(**data):
    values = {**group_data("workers"), "admin_password_hash": HASH, "admin_ssh_keys": [KEY], **data}
    return settings_from_data("w1", ["workers"], values)


def test_converged_account_is_recognised():
    assert account_converged(CONVERGED, settings(), "sudo")


@pytest.mark.parametrize(
    ("change", "data"),
    [
        (lambda a: a.update(passwd=None), {}),
        (lambda a: a["passwd"].__setitem__(6, "/bin/sh"), {}),
        (lambda a: a.update(password="!"), {}),
        (lambda a: a["owners"].__setitem__("/home/kubeadmin", "root 755"), {}),
        (lambda a: a["owners"].__setitem__("/home/kubeadmin/.ssh", "kubeadmin 755"), {}),
        (lambda a: a["owners"].pop("/home/kubeadmin/.ssh/authorized_keys"), {}),
        (lambda a: a.update(authorized_keys=[]), {}),
        (lambda a: None, {"admin_sudo": True}),
        (lambda a: None, {"admin_ssh_keys": [KEY, KEY.replace("kubeprep-lab", "other").replace("AAAAIG", "AAAAIH")]}),
    ],
)
def test_any_difference_sends_the_account_to_server_user(change, data):
    account = copy.deepcopy(CONVERGED)
    change(account)
    assert not account_converged(account, settings(**data), "sudo")


def test_no_hash_and_no_keys_only_needs_the_user():
    account = copy.deepcopy(CONVERGED)
    account.update(password="!", authorized_keys=[], owners={"/home/kubeadmin": "kubeadmin 755"})
    assert account_converged(account, settings(admin_password_hash=None, admin_ssh_keys=[]), "sudo")
