"""The local sandbox: emulators and a local host that run the app without Azure. Never deployed."""
