"""Custom pyinfra facts for what pyinfra cannot read: firewalld, sysctl files, swap, SELinux."""
