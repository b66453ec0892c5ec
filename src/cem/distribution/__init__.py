"""Survey distribution: audiences, contact rules, email sending, reminders, event triggers and the website widget."""
