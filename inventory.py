"""The machines to prepare, as two pyinfra groups: control_plane and workers.

Out of the box these are the built-in lab's VMs (`lab/lab up`). For your own machines replace
the import with two lists, for example:

    control_plane = [("cp1.example.com", {"ssh_user": "root"})]
    workers = [
        ("w1.example.com", {"ssh_user": "root"}),
        ("w2.example.com", {"ssh_user": "root", "ssh_port": 2222}),
    ]

Every host must be in exactly one of the two groups; their data is in group_data/.
"""

from lab.inventory import control_plane, workers  # noqa: F401
