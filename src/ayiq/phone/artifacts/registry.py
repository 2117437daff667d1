"""The module table per command: which artefacts each source kind runs, in report order.

Each table is built on first use (PEP 562 module `__getattr__`), so an iOS check never imports the Android
modules and the other way round: start-up is a large share of a small check's time.
"""

from __future__ import annotations

from ayiq.phone.artifacts.base import Artifact


def _ios_common() -> list[Artifact]:
    from ayiq.phone.artifacts.ios_browsers import (
        ChromeFavicon,
        ChromeHistory,
        FirefoxFavicon,
        FirefoxHistory,
    )
    from ayiq.phone.artifacts.ios_calendar import Calendar
    from ayiq.phone.artifacts.ios_datausage import DataUsage
    from ayiq.phone.artifacts.ios_interactionc import InteractionC
    from ayiq.phone.artifacts.ios_preferences import ConfigurationProfiles, GlobalPreferences, IdStatusCache
    from ayiq.phone.artifacts.ios_safari import SafariBrowserState, SafariHistory
    from ayiq.phone.artifacts.ios_shortcuts import Shortcuts
    from ayiq.phone.artifacts.ios_sms import Sms, SmsAttachments
    from ayiq.phone.artifacts.ios_system import LocationdClients, OsAnalyticsAdDaily
    from ayiq.phone.artifacts.ios_tcc import Tcc
    from ayiq.phone.artifacts.ios_webkit import WebkitResourceLoadStatistics
    from ayiq.phone.artifacts.ios_whatsapp import WhatsApp

    return [
        Sms(), SmsAttachments(), SafariBrowserState(), SafariHistory(), DataUsage(), Tcc(), Calendar(),
        WebkitResourceLoadStatistics(), WhatsApp(), GlobalPreferences(), IdStatusCache(), ConfigurationProfiles(),
        LocationdClients(), OsAnalyticsAdDaily(), ChromeHistory(), ChromeFavicon(), FirefoxHistory(),
        FirefoxFavicon(), Shortcuts(), InteractionC(),
    ]


def _ios_backup() -> list[Artifact]:
    from ayiq.phone.artifacts.ios_backup_meta import BackupInfo, Manifest
    from ayiq.phone.artifacts.ios_system import Applications

    return [BackupInfo(), Manifest(), Applications(), *_ios_common()]


def _ios_fs() -> list[Artifact]:
    from ayiq.phone.artifacts.ios_browsers import CacheFiles, SafariFavicon
    from ayiq.phone.artifacts.ios_datausage import NetUsage
    from ayiq.phone.artifacts.ios_shutdownlog import ShutdownLog
    from ayiq.phone.artifacts.ios_webkit import WebkitWebsiteData

    return [*_ios_common(), NetUsage(), ShutdownLog(), SafariFavicon(), CacheFiles(), WebkitWebsiteData()]


def _androidqf() -> list[Artifact]:
    from ayiq.phone.artifacts.android_aqf import (
        AqfFiles,
        AqfGetProp,
        AqfPackages,
        AqfProcesses,
        AqfSettings,
        RootBinaries,
    )
    from ayiq.phone.artifacts.android_dumpsys import (
        DumpsysAccessibility,
        DumpsysAdb,
        DumpsysAppops,
        DumpsysBattery,
        DumpsysDbInfo,
        DumpsysPackages,
        DumpsysPlatformCompat,
    )
    from ayiq.phone.artifacts.android_sms import AndroidSms

    return [AqfPackages(), AqfProcesses(), AqfGetProp(), AqfSettings(), AqfFiles(), RootBinaries(),
            AndroidSms(), DumpsysAppops(), DumpsysPackages(), DumpsysAccessibility(),
            DumpsysDbInfo(), DumpsysAdb(), DumpsysBattery(), DumpsysPlatformCompat()]


def _bugreport() -> list[Artifact]:
    from ayiq.phone.artifacts.android_dumpsys import (
        BugreportGetProp,
        DumpsysAccessibility,
        DumpsysAdb,
        DumpsysAppops,
        DumpsysBattery,
        DumpsysDbInfo,
        DumpsysPackages,
        DumpsysPlatformCompat,
        Tombstones,
    )

    return [DumpsysAppops(), DumpsysPackages(), DumpsysAccessibility(), DumpsysDbInfo(), DumpsysAdb(),
            DumpsysBattery(), DumpsysPlatformCompat(), BugreportGetProp(), Tombstones()]


def _android_backup() -> list[Artifact]:
    from ayiq.phone.artifacts.android_sms import AndroidSms

    return [AndroidSms()]


_BUILDERS = {"IOS_BACKUP": _ios_backup, "IOS_FS": _ios_fs, "ANDROIDQF": _androidqf, "BUGREPORT": _bugreport,
             "ANDROID_BACKUP": _android_backup}
_TABLES: dict[str, list[Artifact]] = {}


def __getattr__(name: str) -> list[Artifact]:
    """IOS_BACKUP, IOS_FS, ANDROIDQF, BUGREPORT, ANDROID_BACKUP: built once, on first use."""
    if name not in _BUILDERS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _TABLES:
        _TABLES[name] = _BUILDERS[name]()
    return _TABLES[name]
