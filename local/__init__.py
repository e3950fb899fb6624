"""The laptop stack: embedded Postgres, moto, and the AWS event sources that call Conveyor's functions."""
