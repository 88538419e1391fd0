-- Schema 7: which evidence of a rule came from the team's rulebook (`pulled = 1`, written by a
-- pull) and which this machine found itself (`0`). A team rule that gained evidence here
-- (an import matched it) is offered back to the team with that evidence only.
ALTER TABLE rule_evidence ADD COLUMN pulled INTEGER NOT NULL DEFAULT 0;
