"""Old names of the shared config writer (:mod:`traceforge_shared.configfile`), kept
importable: ``write_config_text`` is :func:`~traceforge_shared.configfile.write_config`,
``merge_config`` is :func:`~traceforge_shared.configfile.update_config`, ``read_text`` is
:func:`~traceforge_shared.configfile.read_config_text` and ``InvalidConfig`` is
:class:`~traceforge_shared.config.ConfigError`.
"""

from __future__ import annotations

from traceforge_shared.config import ConfigError as InvalidConfig
from traceforge_shared.configfile import guess_indents
from traceforge_shared.configfile import read_config_text as read_text
from traceforge_shared.configfile import update_config as merge_config
from traceforge_shared.configfile import write_config as write_config_text

__all__ = ["InvalidConfig", "guess_indents", "merge_config", "read_text", "write_config_text"]
