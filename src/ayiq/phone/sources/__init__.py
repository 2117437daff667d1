"""Evidence sources: iOS backups and dumps, androidqf, bugreport, adb backups."""
