"""Your machines, as two pyinfra groups: control_plane and workers. Edit these lists.

Every host must be in exactly one of the two groups; their data is in group_data/ and can be
set per host here (e.g. ``cluster_address``, the node's address on the cluster network).

    pyinfra inventory.py deploy.py --dry     # what would change
    pyinfra inventory.py deploy.py           # apply

The built-in lab has its own inventory: ``pyinfra lab/inventory.py deploy.py`` (``./run demo``).
"""

control_plane = [
    ("cp1.example.com", {"ssh_user": "root", "cluster_address": "10.0.0.11"}),
]
workers = [
    ("w1.example.com", {"ssh_user": "root", "cluster_address": "10.0.0.21"}),
    ("w2.example.com", {"ssh_user": "root", "ssh_port": 2222, "cluster_address": "10.0.0.22"}),
]
