"""The module table per command: which artefacts each source kind runs, in report order."""

from __future__ import annotations

from ayiq.phone.artifacts.android_aqf import (
    AqfFiles,
    AqfGetProp,
    AqfPackages,
    AqfProcesses,
    AqfSettings,
    RootBinaries,
)
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
from ayiq.phone.artifacts.android_sms import AndroidSms
from ayiq.phone.artifacts.base import Artifact
from ayiq.phone.artifacts.ios_backup_meta import BackupInfo, Manifest
from ayiq.phone.artifacts.ios_browsers import (
    CacheFiles,
    ChromeFavicon,
    ChromeHistory,
    FirefoxFavicon,
    FirefoxHistory,
    SafariFavicon,
)
from ayiq.phone.artifacts.ios_calendar import Calendar
from ayiq.phone.artifacts.ios_datausage import DataUsage, NetUsage
from ayiq.phone.artifacts.ios_interactionc import InteractionC
from ayiq.phone.artifacts.ios_preferences import ConfigurationProfiles, GlobalPreferences, IdStatusCache
from ayiq.phone.artifacts.ios_safari import SafariBrowserState, SafariHistory
from ayiq.phone.artifacts.ios_shortcuts import Shortcuts
from ayiq.phone.artifacts.ios_shutdownlog import ShutdownLog
from ayiq.phone.artifacts.ios_sms import Sms, SmsAttachments
from ayiq.phone.artifacts.ios_system import Applications, LocationdClients, OsAnalyticsAdDaily
from ayiq.phone.artifacts.ios_tcc import Tcc
from ayiq.phone.artifacts.ios_webkit import WebkitResourceLoadStatistics, WebkitWebsiteData
from ayiq.phone.artifacts.ios_whatsapp import WhatsApp

IOS_COMMON: list[Artifact] = [
    Sms(), SmsAttachments(), SafariBrowserState(), SafariHistory(), DataUsage(), Tcc(), Calendar(),
    WebkitResourceLoadStatistics(), WhatsApp(), GlobalPreferences(), IdStatusCache(), ConfigurationProfiles(),
    LocationdClients(), OsAnalyticsAdDaily(), ChromeHistory(), ChromeFavicon(), FirefoxHistory(), FirefoxFavicon(),
    Shortcuts(), InteractionC(),
]
IOS_BACKUP: list[Artifact] = [BackupInfo(), Manifest(), Applications(), *IOS_COMMON]
IOS_FS: list[Artifact] = [*IOS_COMMON, NetUsage(), ShutdownLog(), SafariFavicon(), CacheFiles(), WebkitWebsiteData()]
ANDROIDQF: list[Artifact] = [AqfPackages(), AqfProcesses(), AqfGetProp(), AqfSettings(), AqfFiles(), RootBinaries(),
                             AndroidSms(), DumpsysAppops(), DumpsysPackages(), DumpsysAccessibility(),
                             DumpsysDbInfo(), DumpsysAdb(), DumpsysBattery(), DumpsysPlatformCompat()]
BUGREPORT: list[Artifact] = [DumpsysAppops(), DumpsysPackages(), DumpsysAccessibility(), DumpsysDbInfo(), DumpsysAdb(),
                             DumpsysBattery(), DumpsysPlatformCompat(), BugreportGetProp(), Tombstones()]
ANDROID_BACKUP: list[Artifact] = [AndroidSms()]
