"""Reading and writing the contract's files: CSV and Parquet readers, atomic writers."""
