"""The censorship lab: a client, an ISP with a censor middlebox and an "internet", in network namespaces."""

from ayiq.lab.lab import ADDRESSES, HOSTS, Lab, LabError, LabSetupMissing, LabUnavailable, check_support
from ayiq.lab.scenario import Scenario, Target, builtin_names, load_scenario, scenario_from_dict

__all__ = ["ADDRESSES", "HOSTS", "Lab", "LabError", "LabSetupMissing", "LabUnavailable", "Scenario", "Target", "builtin_names",
           "check_support", "load_scenario", "scenario_from_dict"]
