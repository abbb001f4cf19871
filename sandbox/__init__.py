"""Local stand-ins for Azure: the Functions host, Azurite and service emulators. Never deployed."""
