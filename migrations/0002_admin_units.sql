-- Administrative units: reference data with validity dates. A unit is keyed by its code and
-- the day it took effect, since the communes of the new Tây Ninh (from 2025-07-01) reuse codes
-- of old units.
CREATE TABLE admin_units (
    code        text NOT NULL,
    name        text NOT NULL,
    level       text NOT NULL CHECK (level IN ('province', 'district', 'commune')),
    parent_code text,
    valid_from  date NOT NULL,
    valid_to    date,
    PRIMARY KEY (code, valid_from),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);

-- Every (ancestor, descendant) pair by code, itself included: "a unit covers itself and the
-- units below it, whatever their validity dates", answered by one index lookup.
CREATE TABLE admin_unit_closure (
    ancestor   text NOT NULL,
    descendant text NOT NULL,
    PRIMARY KEY (ancestor, descendant)
);
CREATE INDEX admin_unit_closure_descendant ON admin_unit_closure (descendant);
