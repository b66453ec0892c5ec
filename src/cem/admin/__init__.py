"""The admin domain: workspaces, members and API tokens (cem.admin.service), the admin pages, login and home."""
