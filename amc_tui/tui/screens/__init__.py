"""The TUI's screens, one module each: instances, confirm, dashboard, execution detail,
history, help, and the small dialogs."""
