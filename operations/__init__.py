"""Custom pyinfra operations for what pyinfra has none of: firewalld, SELinux mode, fstab swap."""
