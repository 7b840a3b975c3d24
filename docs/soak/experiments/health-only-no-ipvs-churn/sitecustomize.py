# Experiment only: after the first failed IPVS open, fail at once without a new thread or
# pyroute2 socket (as a cheap availability probe would), to see whether the per-retry churn
# is what grows RSS on this IPVS-less host.
import haipvs.ipvs.reconcile as reconcile
from haipvs.ipvs.errors import IpvsUnavailable

_original = reconcile.Reconciler._ensure_thread


def _ensure_thread(self):
    if getattr(self, "_experiment_gave_up", False):
        raise IpvsUnavailable()
    try:
        return _original(self)
    except IpvsUnavailable:
        self._experiment_gave_up = True
        raise


reconcile.Reconciler._ensure_thread = _ensure_thread
