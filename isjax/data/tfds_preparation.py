"""Get a prepared TFDS builder, with a clear error on machines without network.

TFDS 4.9.10 retries a failed download 10 times with exponential backoff
(`MAX_RETRIES` and `backoff_factor=0.2` in tfds/core/download/downloader.py).
On a machine without network, `download_and_prepare` therefore fails only
after about 200 seconds (measured: 205 s for cifar10 on a machine whose DNS
resolves no external name). Before downloading, this module opens a TCP
connection to each host that TFDS would download from, with a short timeout,
and raises at once when one cannot be reached.
"""

import os
import socket
import urllib.parse
import urllib.request

import tensorflow_datasets as tfds

_CONNECT_TIMEOUT_SECONDS = 5.0
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}


class DatasetNotPreparedError(RuntimeError):
  """A TFDS dataset is not prepared and cannot be prepared on this machine."""


def default_manual_dir(builder):
  """Return the folder that TFDS reads original files from by default."""
  # Matches `DatasetBuilder._make_download_manager` in TFDS 4.9.
  return os.path.join(os.fspath(builder.data_dir_root), "downloads", "manual")


def hosts_to_check(builder, manual_dir):
  """Return the sorted (host, port) pairs that preparing `builder` contacts.

  Files already in `manual_dir` under the name in the dataset's checksums are
  not downloaded, so their hosts are left out. Datasets that TFDS prepares
  only from manually downloaded files download nothing.

  Args:
    builder: a `tfds.core.DatasetBuilder`.
    manual_dir: the manual directory that preparation will read.

  Returns:
    A sorted list of (host, port).
  """
  if builder.MANUAL_DOWNLOAD_INSTRUCTIONS:
    return []
  hosts = set()
  for url, url_info in (builder.url_infos or {}).items():
    if url_info.filename and os.path.exists(
        os.path.join(manual_dir, url_info.filename)):
      continue
    parts = urllib.parse.urlsplit(url)
    if parts.hostname:
      port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 443)
      hosts.add((parts.hostname, port))
  return sorted(hosts)


def find_unreachable_host(hosts):
  """Return "host:port (error)" for the first unreachable host, else None.

  Returns None without connecting when a proxy is configured in the
  environment, because downloads then go through the proxy and a direct
  connection would not show whether they work.
  """
  if urllib.request.getproxies():
    return None
  for host, port in hosts:
    try:
      connection = socket.create_connection(
          (host, port), timeout=_CONNECT_TIMEOUT_SECONDS)
      connection.close()
    except OSError as error:
      return f"{host}:{port} ({error})"
  return None


def _not_prepared_message(builder, manual_dir, reason):
  name = builder.name
  file_names = sorted(
      url_info.filename for url_info in (builder.url_infos or {}).values()
      if url_info.filename)
  if builder.MANUAL_DOWNLOAD_INSTRUCTIONS:
    files_wanted = "the files that the TFDS instructions below name"
  elif file_names:
    files_wanted = f"the original files ({', '.join(file_names)})"
  else:
    files_wanted = "the dataset's original files"

  message = (
      f"TFDS dataset {name!r} is not prepared under {builder.data_dir} and "
      f"cannot be prepared here: {reason}.\n"
      "To fix it, do one of the following:\n"
      "  (a) On a machine with network access, run\n"
      f"        python -c \"import tensorflow_datasets as tfds; "
      f"tfds.builder('{name}', data_dir='DIR').download_and_prepare()\"\n"
      "      then copy DIR to this machine and pass "
      "--config.dataset.data_dir=DIR (the data directory now is "
      f"{os.fspath(builder.data_dir_root)}).\n"
      f"  (b) Put {files_wanted} into {manual_dir}, or into another folder "
      "passed as --config.dataset.manual_dir=DIR, and keep "
      "--config.dataset.download=True so that TFDS prepares the dataset from "
      "them.\n"
      "  (c) Train offline on the embedded MNIST subset: configs/default.py "
      "uses dataset.name='mnist5k', which needs no download.")
  if builder.MANUAL_DOWNLOAD_INSTRUCTIONS:
    message += (
        f"\nTFDS instructions for {name}:\n"
        f"{builder.MANUAL_DOWNLOAD_INSTRUCTIONS.strip()}")
  return message


def load_prepared_builder(name, *, data_dir, manual_dir, download):
  """Return the TFDS builder of `name`, preparing the dataset when allowed.

  Args:
    name: a registered TFDS name, e.g. "mnist" or "cifar10:3.0.2".
    data_dir: TFDS data directory, or None for the TFDS default
      (~/tensorflow_datasets or $TFDS_DATA_DIR).
    manual_dir: folder with manually downloaded original files, or None for
      <data_dir>/downloads/manual.
    download: whether to download and prepare the dataset when it is not
      prepared.

  Returns:
    A `tfds.core.DatasetBuilder` whose dataset is prepared.

  Raises:
    tfds.core.registered.DatasetNotFoundError: if `name` is not registered.
    DatasetNotPreparedError: if the dataset is not prepared and downloading is
      off, the network cannot be reached, or preparation fails. The message
      lists the fixes.
    ImportError: if the TFDS download code needs a package that is missing.
  """
  builder = tfds.builder(name, data_dir=data_dir)
  if builder.is_prepared():
    return builder

  manual_path = manual_dir or default_manual_dir(builder)
  if not download:
    raise DatasetNotPreparedError(_not_prepared_message(
        builder, manual_path, "downloading is off (dataset.download=False)"))

  unreachable = find_unreachable_host(hosts_to_check(builder, manual_path))
  if unreachable is not None:
    raise DatasetNotPreparedError(_not_prepared_message(
        builder, manual_path,
        f"the network cannot be reached (connecting to {unreachable} failed)"))

  try:
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
  except ModuleNotFoundError as error:
    # TFDS 4.9's download code imports importlib_resources without declaring
    # it as a dependency, and some datasets need extra packages (scipy for
    # svhn_cropped's .mat files).
    if error.name is None:
      raise
    raise ImportError(
        f"Preparing TFDS dataset {name!r} needs the Python module "
        f"{error.name!r}, which is not installed. Install the package that "
        f"provides it, e.g. pip install {error.name}") from error
  except AssertionError as error:
    # TFDS raises AssertionError when the manual directory is missing or empty.
    raise DatasetNotPreparedError(_not_prepared_message(
        builder, manual_path, f"TFDS needs manually downloaded files ({error})")
    ) from error
  except (OSError, tfds.download.DownloadError) as error:
    # requests' connection errors and urllib's URLError are OSErrors.
    raise DatasetNotPreparedError(_not_prepared_message(
        builder, manual_path, f"the download failed ({error})")) from error
  return builder
