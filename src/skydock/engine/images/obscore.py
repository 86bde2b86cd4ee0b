"""ObsCore rows of images as a VOTable: the answer of an SIA v2 query.

Columns follow ObsCore 1.1 (names, units, UCDs, utypes), so pyvo's ``SIA2Record``
reads them; :func:`publish` also makes them the catalog ``ivoa.obscore`` for TAP. The
document also carries a SODA service descriptor (DataLink 1.1 §4), so a client knows
that cutouts of a row are at ``/soda/sync`` with ``ID`` set to the row's
``obs_publisher_did``.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence
from pathlib import Path

from astropy.io.votable.tree import (
    Field,
    Info,
    Param,
    Resource,
    TableElement,
    VOTableFile,
)

from skydock.engine.images.registry import ImageRecord

SODA_SYNC = "ivo://ivoa.net/std/SODA#sync-1.0"

# name, datatype, arraysize, unit, ucd, utype
_COLUMNS: tuple[tuple[str, str, str | None, str | None, str, str], ...] = (
    (
        "dataproduct_type",
        "char",
        "*",
        None,
        "meta.code.class",
        "obscore:ObsDataset.dataProductType",
    ),
    ("calib_level", "short", None, None, "meta.code;obs.calib", "obscore:ObsDataset.calibLevel"),
    ("obs_collection", "char", "*", None, "meta.id", "obscore:DataID.Collection"),
    ("obs_id", "char", "*", None, "meta.id", "obscore:DataID.observationID"),
    ("obs_publisher_did", "char", "*", None, "meta.ref.ivoid", "obscore:Curation.PublisherDID"),
    ("access_url", "char", "*", None, "meta.ref.url", "obscore:Access.Reference"),
    ("access_format", "char", "*", None, "meta.code.mime", "obscore:Access.Format"),
    ("access_estsize", "long", None, "kbyte", "phys.size;meta.file", "obscore:Access.Size"),
    ("target_name", "char", "*", None, "meta.id;src", "obscore:Target.Name"),
    (
        "s_ra",
        "double",
        None,
        "deg",
        "pos.eq.ra",
        "obscore:Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C1",
    ),
    (
        "s_dec",
        "double",
        None,
        "deg",
        "pos.eq.dec",
        "obscore:Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C2",
    ),
    (
        "s_fov",
        "double",
        None,
        "deg",
        "phys.angSize;instr.fov",
        "obscore:Char.SpatialAxis.Coverage.Bounds.Extent.diameter",
    ),
    (
        "s_region",
        "char",
        "*",
        None,
        "pos.outline;obs.field",
        "obscore:Char.SpatialAxis.Coverage.Support.Area",
    ),
    (
        "s_resolution",
        "double",
        None,
        "arcsec",
        "pos.angResolution",
        "obscore:Char.SpatialAxis.Resolution.Refval.value",
    ),
    ("s_xel1", "long", None, None, "meta.number", "obscore:Char.SpatialAxis.numBins1"),
    ("s_xel2", "long", None, None, "meta.number", "obscore:Char.SpatialAxis.numBins2"),
    (
        "t_min",
        "double",
        None,
        "d",
        "time.start;obs.exposure",
        "obscore:Char.TimeAxis.Coverage.Bounds.Limits.StartTime",
    ),
    (
        "t_max",
        "double",
        None,
        "d",
        "time.end;obs.exposure",
        "obscore:Char.TimeAxis.Coverage.Bounds.Limits.StopTime",
    ),
    (
        "t_exptime",
        "double",
        None,
        "s",
        "time.duration;obs.exposure",
        "obscore:Char.TimeAxis.Coverage.Support.Extent",
    ),
    (
        "t_resolution",
        "double",
        None,
        "s",
        "time.resolution",
        "obscore:Char.TimeAxis.Resolution.Refval.value",
    ),
    ("t_xel", "long", None, None, "meta.number", "obscore:Char.TimeAxis.numBins"),
    (
        "em_min",
        "double",
        None,
        "m",
        "em.wl;stat.min",
        "obscore:Char.SpectralAxis.Coverage.Bounds.Limits.LoLimit",
    ),
    (
        "em_max",
        "double",
        None,
        "m",
        "em.wl;stat.max",
        "obscore:Char.SpectralAxis.Coverage.Bounds.Limits.HiLimit",
    ),
    (
        "em_res_power",
        "double",
        None,
        None,
        "spect.resolution",
        "obscore:Char.SpectralAxis.Resolution.ResolPower.refVal",
    ),
    ("em_xel", "long", None, None, "meta.number", "obscore:Char.SpectralAxis.numBins"),
    ("o_ucd", "char", "*", None, "meta.ucd", "obscore:Char.ObservableAxis.ucd"),
    ("pol_xel", "long", None, None, "meta.number", "obscore:Char.PolarizationAxis.numBins"),
    (
        "facility_name",
        "char",
        "*",
        None,
        "meta.id;instr.tel",
        "obscore:Provenance.ObsConfig.Facility.name",
    ),
    (
        "instrument_name",
        "char",
        "*",
        None,
        "meta.id;instr",
        "obscore:Provenance.ObsConfig.Instrument.name",
    ),
    ("band", "char", "*", None, "instr.bandpass", ""),
)


def _row(record: ImageRecord, file_url: str) -> list[object]:
    mid = (record.em_min + record.em_max) / 2
    return [
        "image",
        2,
        record.collection,
        record.obs_id,
        record.publisher_did,
        f"{file_url}/{record.collection}/{record.obs_id}.fits",
        "image/fits",
        max(1, math.ceil(record.size_bytes / 1024)),
        record.target_name,
        record.s_ra,
        record.s_dec,
        record.s_fov,
        record.s_region,
        record.s_resolution,
        record.naxis1,
        record.naxis2,
        record.t_min,
        record.t_max,
        record.t_exptime,
        record.t_exptime,
        1,
        record.em_min,
        record.em_max,
        mid / (record.em_max - record.em_min) if record.em_max > record.em_min else math.nan,
        1,
        "phot.flux.density",
        1,
        record.facility_name,
        record.instrument_name,
        record.band,
    ]


def votable(
    records: Sequence[ImageRecord], *, file_url: str, soda_url: str, overflow: bool
) -> bytes:
    """The SIA v2 answer: ``QUERY_STATUS`` OK or OVERFLOW, one row per image."""
    doc = VOTableFile(version="1.4")
    results = Resource(type="results")
    doc.resources.append(results)
    results.infos.append(Info(name="QUERY_STATUS", value="OVERFLOW" if overflow else "OK"))
    table = TableElement(doc, name="obscore")
    results.tables.append(table)
    for name, datatype, arraysize, unit, ucd, utype in _COLUMNS:
        field = Field(
            doc, name=name, ID=name, datatype=datatype, arraysize=arraysize, unit=unit, ucd=ucd
        )
        if utype:
            field.utype = utype
        if name == "s_region":
            field.xtype = "adql:REGION"
        table.fields.append(field)
    table.create_arrays(nrows=len(records))
    for i, record in enumerate(records):
        values = _row(record, file_url)
        for field, value in zip(table.fields, values, strict=True):
            is_nan = isinstance(value, float) and math.isnan(value)
            table.array[field.name][i] = 0 if is_nan else value
            table.array.mask[field.name][i] = is_nan
    doc.resources.append(_soda_descriptor(doc, soda_url))
    out = io.BytesIO()
    doc.to_xml(out, tabledata_format="tabledata")
    return out.getvalue()


def _soda_descriptor(doc: VOTableFile, soda_url: str) -> Resource:
    from astropy.io.votable.tree import Group

    meta = Resource(type="meta", utype="adhoc:service", ID="soda")
    meta.params.append(
        Param(doc, name="standardID", datatype="char", arraysize="*", value=SODA_SYNC)
    )
    meta.params.append(Param(doc, name="accessURL", datatype="char", arraysize="*", value=soda_url))
    group = Group(doc, name="inputParams")
    group.entries.append(
        Param(
            doc,
            name="ID",
            datatype="char",
            arraysize="*",
            value="",
            ref="obs_publisher_did",
            ucd="meta.id;meta.dataset",
        )
    )
    group.entries.append(
        Param(
            doc,
            name="CIRCLE",
            datatype="double",
            arraysize="3",
            unit="deg",
            value="",
            ucd="obs.field",
            xtype="circle",
        )
    )
    group.entries.append(
        Param(
            doc,
            name="POLYGON",
            datatype="double",
            arraysize="*",
            unit="deg",
            value="",
            ucd="obs.field",
            xtype="polygon",
        )
    )
    group.entries.append(
        Param(doc, name="POS", datatype="char", arraysize="*", value="", ucd="obs.field")
    )
    meta.groups.append(group)
    return meta


OBSCORE_TABLE = "ivoa.obscore"


def publish(data_dir: Path, records: Sequence[ImageRecord], *, progress: bool = False) -> int:
    """(Re)build the catalog ``ivoa.obscore`` from the registry, so TAP and SQL users can
    query the images like any table (``access_url`` is relative to the server's root).

    The catalog is dropped and ingested again: a query arriving in between sees no
    table for a moment. Returns the rows written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from skydock.engine.catalog import CatalogStore
    from skydock.engine.ingest import ingest_catalog

    store = CatalogStore.for_data_dir(data_dir)
    if store.exists(OBSCORE_TABLE):
        store.drop(OBSCORE_TABLE)
    if not records:
        return 0
    rows = [_row(r, "/api/images/files") for r in records]
    names = [c[0] for c in _COLUMNS]
    arrow_type = {
        "char": pa.string(),
        "short": pa.int16(),
        "long": pa.int64(),
        "double": pa.float64(),
    }
    columns = {
        name: pa.array([row[i] for row in rows], type=arrow_type[_COLUMNS[i][1]])
        for i, name in enumerate(names)
    }
    scratch = store.staging_dir() / "obscore"
    scratch.mkdir(parents=True, exist_ok=True)
    path = scratch / "obscore.parquet"
    pq.write_table(pa.table(columns), path)
    meta = {
        "description": "ObsCore 1.1 view of the registered images (SIA v2 at /sia).",
        "columns": {
            name: {"unit": unit or "", "ucd": ucd, "description": utype or "band name"}
            for name, _, _, unit, ucd, utype in _COLUMNS
        },
    }
    try:
        ingest_catalog(
            store,
            [path],
            OBSCORE_TABLE,
            ra="s_ra",
            dec="s_dec",
            id_column="obs_publisher_did",
            meta=meta,
            progress=progress,
        )
    finally:
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            scratch.rmdir()
    return len(rows)
