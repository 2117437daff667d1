"""Cases: an intimidation wave's accounts and every finding, kept as encrypted, tamper-evident evidence."""
