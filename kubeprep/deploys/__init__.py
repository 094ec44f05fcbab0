"""kubeprep's deploys, each a pyinfra ``@deploy`` another project can import and call, in this
order (deploy.py's), each runnable alone:

- ``account.account``: the non-root admin user
- ``firewall.firewall``: firewalld, the role's ports, the nodes-only ports in a zone of their own
- ``swap.swap``: swap off now and at boot (with ``swap = "keep"``, kubeprep's changes undone)
- ``kernel.kernel``: the kernel modules loaded, the sysctls set
- ``selinux.selinux``: the SELinux mode now and at boot
- ``runtime.runtime``: containerd, configured for the kubelet
- ``kubernetes.kubernetes``: kubeadm, kubelet and kubectl, held
- ``cluster.cluster``: ``kubeadm init``, the CNI, every other node joined

Each reads its settings from the host's data (docs/data-keys.md); a key the data lacks takes its
declared default (``data_defaults``), so kubeprep's group_data/ is not needed. A host must be in
the ``control_plane`` or the ``workers`` group. Every key is checked, for every deploy, before
any operation is added: a host whose data is wrong is failed, with the key and the fix, and the
other hosts go on. pyinfra's global arguments (``_sudo`` and the others) apply as to any deploy:

.. code:: python

    from kubeprep.deploys.firewall import firewall
    from kubeprep.deploys.kernel import kernel

    kernel(_sudo=True)
    firewall(_sudo=True)
"""
