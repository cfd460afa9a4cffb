ccxt-cli export funding --all --from 2025-01-01 --to 2025-01-03 --out funding.parquet
ccxt-cli export liquidations --all --from 2025-01-01 --to 2025-01-03 --out liq --partition
ccxt-cli export bars BTCUSDT-PERP --interval 1h --from 2025-01-02 --to 2025-01-02 --out bars.parquet
