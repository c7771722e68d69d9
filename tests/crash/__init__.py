"""Crash safety: the bot in a child process, killed with SIGKILL."""
