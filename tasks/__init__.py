"""The five node-prep tasks. Each file is a pyinfra deploy that also runs on its own."""
