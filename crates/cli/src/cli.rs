//! Command-line flags (clap derive). Flags are raw input: `commands` validate them.

use std::path::PathBuf;

use ccxt_model::{BarInterval, BarPrice, RecordKind, SymbolInput, Venue};
use ccxt_venue::OiPeriod;
use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  ccxt-cli query funding BTCUSDT-PERP --catalog catalog.example
  ccxt-cli query oi ETHUSDT-PERP -e bybit --from 2025-01-02 -n 5 --format json
  ccxt-cli query liquidations BTC/USDT:USDT --from 2025-01-01 --to 2025-01-01 --format csv | head
  ccxt-cli catalog info --catalog catalog.example
  ccxt-cli catalog compact --catalog ./catalog";

/// Collects open interest, funding rates and liquidations from crypto perpetual venues into a
/// Parquet catalog that NautilusTrader reads, and queries it (the venues are named at run
/// time: `crate::help`).
#[derive(Debug, Parser)]
#[command(name = "ccxt-cli", version = crate::meta::VERSION, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Config file (TOML) [default: $CCXT_CONFIG, then the first of ./ccxt-pipeline.toml,
    /// $XDG_CONFIG_HOME/ccxt-pipeline/config.toml, /etc/ccxt-pipeline/config.toml]
    #[arg(short = 'c', long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log level: error, warn, info, debug, trace, off, or directives such as
    /// info,ccxt_stream=debug [default: $CCXT_LOG_LEVEL, the config file's log_level, $RUST_LOG,
    /// warn; info for `daemon start`]
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Log format on stderr [default: $CCXT_LOG_FORMAT, the config file's log_format, human]
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Local directory of the write-ahead spool and state files of the storing commands
    /// [default: $CCXT_SPOOL__DIR, the config file's spool.dir, then <catalog>/.spool for a
    /// local catalog, $XDG_STATE_HOME/ccxt-pipeline/<catalog> for an object store]
    #[arg(long, global = true, value_name = "DIR")]
    pub spool_dir: Option<PathBuf>,
}

/// `--catalog`, offered only by the commands that read or write the catalog.
#[derive(Debug, Args)]
pub struct CatalogArg {
    /// Catalog root directory [default: $CCXT_CATALOG_PATH, then the config file's
    /// catalog_path, then ./catalog]
    #[arg(long, value_name = "PATH")]
    pub catalog: Option<String>,
}

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Readable lines.
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch open interest from the venues: current values, or history with --from
    // after_help: built from the registry (`crate::help`).
    FetchOi(FetchOiArgs),
    /// Fetch funding rates: current (rate, interval, next funding, mark price), or settled history with --from
    #[command(after_help = "\
Examples:
  ccxt-cli fetch-funding BTCUSDT-PERP
  ccxt-cli fetch-funding BTCUSDT-PERP ETHUSDT-PERP --from 2025-01-01 --store
  ccxt-cli fetch-funding --all -e hyperliquid --format json | jq '.[] | select(.rate > \"0.0001\")'

Exit codes: 0 all succeeded, 1 something failed (what succeeded is stored), 2 usage error.")]
    FetchFunding(FetchArgs),
    /// Fetch OHLCV bars (trade or mark price): the latest 100 closed bars, or history with --from
    // after_help: built from the registry (`crate::help`).
    FetchBars(FetchBarsArgs),
    /// Stream liquidations live: print them as they arrive, optionally store them
    // after_help: built from the registry (`crate::help`).
    StreamLiquidations(StreamArgs),
    /// Print stored rows of one type for symbols or every instrument, raw or per time bucket
    #[command(after_help = "\
Examples:
  ccxt-cli query funding BTCUSDT-PERP
  ccxt-cli query oi BTC ETH -e binance -n 10
  ccxt-cli query liquidations --from 2025-01-02T10:00:00Z --to 2025-01-02T11:00:00Z   # every instrument
  ccxt-cli query funding --all --every 1d
  ccxt-cli query bars BTC --interval 1h --every 1d
  ccxt-cli query oi --all --by-asset --every 1h --format csv
  ccxt-cli query funding BTC --by-asset --every 1d
  ccxt-cli query oi BTCUSDT-PERP -e binance -e bybit --from 2025-01-02T00:00:00Z --to 2025-01-02T06:00:00Z
  ccxt-cli query liquidations ETHUSDT-PERP -n 20 --format ndjson | jq .value
  ccxt-cli query bars BTCUSDT-PERP --interval 1h -e binance --from 2025-01-01 --to 2025-01-02
  ccxt-cli query bars BTCUSDT-PERP --interval 1h --price mark --format csv > marks.csv
  ccxt-cli query bars ETHUSDT-PERP --interval 1m -e hyperliquid --from 2025-01-01 --gaps
  ccxt-cli query mark BTCUSDT-PERP -e bybit -n 10
  ccxt-cli query index BTCUSDT-PERP --format json

Times filter on ts_init (receive time, as NautilusTrader does) and are inclusive; a bare date
as --to means the end of that day. Without --from, -n gives the latest N rows.
Bars are stamped at their close (ts_event = ts_init = open + interval) and shown with their
open time too; --interval is one of 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 1w 1M (1M is a
month), --price last (trades, the default) or mark. --gaps lists the intervals of the bar grid
between --from and --to that hold no stored bar, instead of the bars.
Several symbols, --all (every instrument with data of the kind on the -e venues) or, with
--from/--to and no symbol, every instrument in that window.
--every LEN gives one row per instrument and bucket [start, start+LEN) of the UTC grid: the
last value for oi, mark and index (by ts_event); the settled funding rates (by funding time:
count, sum, last; estimates left out); liquidations (by ts_event) counted and summed, base
quantity and USD value, for liquidated longs and shorts; bars (by their open, so a bucket
holds the bars wholly inside it) re-aggregated to open, max high, min low, close, summed
volume and the bar count, LEN a multiple of --interval. -n counts buckets.
--by-asset (oi, funding, liquidations, with --every) gives one row per base asset and bucket
across venues. Quotes are combined: BTCUSDT and BTCUSDC on Binance and Bybit, BTC on
Hyperliquid (USD) and BTC-USDT-SWAP/BTC-USDC-SWAP on OKX all count as BTC. To keep one quote,
name it: `query oi BTCUSDC --by-asset --every 1h` reads the USDC markets only (Hyperliquid's
BTC is its one BTC market); --all and a window read every quote. 1000-unit contracts
(1000PEPEUSDT, Hyperliquid kPEPE) are the asset 1000PEPE; OKX's per-coin PEPE-USDT-SWAP stays
PEPE. oi: the sum of each instrument's last snapshot in coins and USD and each venue's share
of the coins; funding: each venue's settled rate annualised by its own interval (mean rate x
365 x 24h / interval) and the max-min spread; liquidations: totals and each venue's long and
short USD value. Decimal inputs (funding, bar prices, mark, index) stay exact decimals.")]
    Query(QueryArgs),
    /// Write stored rows as flat, typed Parquet or CSV for pandas, polars, DuckDB and Spark
    #[command(after_help = "\
Examples:
  ccxt-cli export funding --all --from 2025-01-01 --to 2025-01-31 --out funding.parquet
  ccxt-cli export oi BTCUSDT-PERP ETHUSDT-PERP -e binance --from 2025-01-01 --out oi.parquet
  ccxt-cli export liquidations --all --out liq --partition      # liq/venue=binance/date=2025-01-02/part-0.parquet
  ccxt-cli export bars BTCUSDT-PERP --interval 1h --price mark --out marks.csv --format csv
  ccxt-cli export mark --all --from 2025-01-03 --to 2025-01-03 --float --out mark.parquet
  ccxt-cli export funding BTC --format csv --out - | head

Columns: ts_event and ts_init as timestamp[ns, UTC] (CSV: RFC 3339 UTC with nine decimals),
venue, symbol (the venue's own), instrument_id, then the record's fields. Funding rates, bar
prices and volumes, mark and index prices are exact decimals, decimal128(38, S) with S the
most decimals any exported value has (CSV: the exact digits at that scale); --float makes
them float64. Open interest and liquidation numbers are float64, as stored.
Times select on ts_init, both ends inclusive, as for query; without --from/--to everything
stored. Rows come day by day (UTC, of ts_init), then by instrument, then by ts_init: memory
holds one instrument-day, however long the range.
--partition writes a Hive-style tree PATH/venue=<venue>/date=<YYYY-MM-DD>/part-<n>.parquet
(date of ts_event, UTC; the venue column is then in the path only) that DuckDB
(hive_partitioning), polars (scan_parquet(..., hive_partitioning=True)), pyarrow datasets and
Spark read as columns.
Output is written under a temporary name and renamed when complete; an existing --out is
refused unless --force. Exit codes: 0 done (also with no rows), 1 a catalog file is unusable
(named) or writing failed, 2 usage error.")]
    Export(ExportArgs),
    /// Inspect and maintain the catalog
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Run the 24/7 collector, check its configuration, or probe its health endpoint
    #[command(subcommand)]
    Daemon(DaemonCommand),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    #[command(after_help = "\
Examples:
  ccxt-cli completions bash > ~/.local/share/bash-completion/completions/ccxt-cli
  ccxt-cli completions zsh > ~/.zfunc/_ccxt-cli        # with fpath+=~/.zfunc before compinit
  ccxt-cli completions fish > ~/.config/fish/completions/ccxt-cli.fish
  ccxt-cli completions powershell >> $PROFILE")]
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command into a directory
    #[command(after_help = "\
Examples:
  ccxt-cli man | man -l -
  ccxt-cli man daemon start | man -l -
  ccxt-cli man --out /usr/local/share/man/man1          # ccxt-cli.1, ccxt-cli-query.1, ...")]
    Man(ManArgs),
    /// Show the effective configuration
    #[command(subcommand)]
    Config(ConfigCommand),
}

impl Command {
    /// Whether the command keeps a spool or state files on local disk (`daemon start` and
    /// `validate`, `stream-liquidations --store`).
    pub fn stores(&self) -> bool {
        match self {
            Command::StreamLiquidations(args) => args.store,
            Command::Daemon(DaemonCommand::Start(_) | DaemonCommand::Validate(_)) => true,
            _ => false,
        }
    }

    /// Whether the command is `daemon start` (which gets the allocator settings of
    /// [`crate::malloc`]).
    pub fn is_daemon_start(&self) -> bool {
        matches!(self, Command::Daemon(DaemonCommand::Start(_)))
    }

    /// Whether the command is one of the one-shot fetches (`fetch-oi`, `fetch-funding`,
    /// `fetch-bars`).
    pub fn is_fetch(&self) -> bool {
        matches!(
            self,
            Command::FetchOi(_) | Command::FetchFunding(_) | Command::FetchBars(_)
        )
    }

    /// The `--catalog` flag, for the commands that offer it.
    pub fn catalog_flag(&self) -> Option<&str> {
        let arg = match self {
            Command::Query(a) => &a.catalog,
            Command::Export(a) => &a.catalog,
            Command::FetchOi(a) => &a.common.catalog,
            Command::FetchFunding(a) => &a.catalog,
            Command::FetchBars(a) => &a.common.catalog,
            Command::StreamLiquidations(a) => &a.catalog,
            Command::Catalog(CatalogCommand::Info { catalog, .. })
            | Command::Catalog(CatalogCommand::Compact { catalog }) => catalog,
            Command::Catalog(CatalogCommand::Verify(a)) => &a.catalog,
            Command::Catalog(CatalogCommand::Demo { .. }) => return None,
            Command::Daemon(DaemonCommand::Start(a) | DaemonCommand::Validate(a)) => &a.catalog,
            Command::Daemon(DaemonCommand::Health(_)) => return None,
            Command::Config(ConfigCommand::Show(a)) => &a.catalog,
            Command::Completions(_) | Command::Man(_) => return None,
        };
        arg.catalog.as_deref()
    }
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration: defaults, config file, environment and flags merged,
    /// with where each value came from (secrets redacted)
    #[command(after_help = "\
Examples:
  ccxt-cli config show
  CCXT_VENUES__BINANCE__REST_URL=http://127.0.0.1:9100 ccxt-cli config show -c my.toml
  ccxt-cli config show --format json | jq '.[] | select(.source != \"default\")'

The config file is --config FILE, else $CCXT_CONFIG, else the first that exists of
./ccxt-pipeline.toml, $XDG_CONFIG_HOME/ccxt-pipeline/config.toml (~/.config when unset) and
/etc/ccxt-pipeline/config.toml. Exit codes: 0 valid, 2 a problem (listed after the values).")]
    Show(ConfigShowArgs),
}

/// `config show` flags.
#[derive(Debug, Args)]
pub struct ConfigShowArgs {
    #[command(flatten)]
    pub catalog: CatalogArg,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

/// `completions` flags.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `man` flags.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The page of this command (e.g. `query`, `daemon start`) [default: the program's]
    #[arg(value_name = "COMMAND")]
    pub command: Vec<String>,
    /// Write the pages of the command and all its subcommands into this directory instead
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `daemon` subcommands.
#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Collect OI, funding and liquidations on a cron schedule until SIGINT/SIGTERM
    #[command(after_help = "\
Examples:
  ccxt-cli daemon start -c config/default.toml -s BTCUSDT-PERP -s ETHUSDT-PERP
  ccxt-cli daemon start --all -e binance -e bybit --oi-interval 5 --funding-interval 15
  CCXT_METRICS__ADDRESS=0.0.0.0:9464 ccxt-cli --log-format json daemon start --all
  ccxt-cli daemon start --all --shard 1/3 --catalog s3://bucket/catalog   # one of three shards

Jobs (cron expressions in [daemon.schedule], UTC, seconds first): open_interest and funding
snapshots, funding_history and open_interest_history top-ups (refill downtime from the venues'
history), instruments (new listings join --all), compaction; liquidation streams always on.
At start, rows since the last stored one are refilled. /healthz and /metrics listen on
metrics.address (default 127.0.0.1:9464). SIGINT/SIGTERM: flush everything, exit 0 within 10 s.
--shard I/N collects the instruments whose FNV-1a hash of venue:symbol % N is I (whole-market
liquidation feeds on one shard); the shards of one N share one catalog, each writing its own.
Exit codes: 0 stopped by a signal, 1 runtime failure, 2 invalid configuration.")]
    Start(DaemonArgs),
    /// Check the configuration (and flags) and report every problem at once; starts nothing
    #[command(after_help = "\
Examples:
  ccxt-cli daemon validate -c /etc/ccxt-pipeline/config.toml
  ccxt-cli daemon validate -c config.toml --all --oi-interval 7   # exit 2: 7 does not divide an hour

Exit codes: 0 valid, 2 invalid (every problem listed on stderr).")]
    Validate(DaemonArgs),
    /// Ask a running daemon's /healthz: exit 0 when healthy, 1 otherwise (Docker HEALTHCHECK)
    #[command(after_help = "\
Examples:
  ccxt-cli daemon health                                   # the address daemon start listens on
  ccxt-cli daemon health -c /etc/ccxt-pipeline/config.toml
  ccxt-cli daemon health --url http://10.0.0.5:9464/healthz

Without --url it probes metrics.address from the same config file and CCXT_METRICS__ADDRESS that
`daemon start` reads (0.0.0.0 / :: become loopback). Exit codes: 0 healthy (HTTP 200), 1 unhealthy
(any other answer, or unreachable; one line on stderr says why), 2 nothing to probe
(metrics.address is \"off\" or invalid) or a bad flag.")]
    Health(HealthArgs),
}

/// `daemon start` / `daemon validate` flags; the config file holds the rest.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// A symbol to collect (repeatable) [default: the config's daemon.symbols]
    #[arg(short = 's', long = "symbol", value_name = "SYMBOL", value_parser = parse_symbol)]
    pub symbols: Vec<SymbolInput>,
    /// Only these venues (repeatable) [default: the config's daemon.venues, then every venue]
    #[arg(short = 'e', long = "exchange", value_enum, value_name = "VENUE")]
    pub venues: Vec<VenueArg>,
    /// Every trading perpetual of the selected venues (new listings join, delisted ones stop)
    #[arg(long)]
    pub all: bool,
    /// Open-interest snapshots every MIN minutes, aligned to the clock (overrides
    /// daemon.schedule.open_interest)
    #[arg(long, value_name = "MIN")]
    pub oi_interval: Option<u32>,
    /// Funding snapshots every MIN minutes, aligned to the clock (overrides
    /// daemon.schedule.funding)
    #[arg(long, value_name = "MIN")]
    pub funding_interval: Option<u32>,
    /// Collect only shard I of N (0-based: 0/2 and 1/2 split the instruments between two
    /// daemons writing to one catalog) [default: the config's daemon.shard, then everything]
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    #[command(flatten)]
    pub catalog: CatalogArg,
}

/// `daemon health` flags.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The health endpoint [default: http://<metrics.address>/healthz, as `daemon start`
    /// listens]
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Give up after this many seconds
    #[arg(long, default_value_t = 5.0)]
    pub timeout: f64,
}

/// `query` flags.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// What to read
    #[arg(value_enum)]
    pub data: DataArg,
    /// Symbols: BTCUSDT-PERP, a venue symbol (BTCUSDT, Hyperliquid BTC or xyz:TSLA), a ccxt
    /// symbol (BTC/USDT:USDT) or a NautilusTrader id (BTCUSDT-PERP.BINANCE); none with --all,
    /// or none with --from/--to for every instrument with data in that window; not used by
    /// `gaps`
    #[arg(value_parser = parse_symbol)]
    pub symbols: Vec<SymbolInput>,
    /// Every instrument with stored data of this kind (of the -e venues)
    #[arg(long, conflicts_with = "symbols")]
    pub all: bool,
    /// One row per instrument and time bucket of this length (1m 5m 15m 1h 4h 1d …, UTC grid):
    /// last value for oi, mark and index; the settled rates for funding; counts and sums by
    /// side for liquidations; OHLCV for bars (a multiple of --interval)
    #[arg(long, value_name = "INTERVAL", value_parser = parse_interval)]
    pub every: Option<BarInterval>,
    /// With --every: one row per base asset and bucket across venues (oi, funding,
    /// liquidations). Quotes are combined: BTCUSDT, BTCUSDC, Hyperliquid BTC (USD) and
    /// BTC-USDT-SWAP all count as BTC
    #[arg(long)]
    pub by_asset: bool,
    /// Only these venues [default: every venue with data for the symbol]
    #[arg(short = 'e', long = "exchange", value_enum, value_name = "VENUE")]
    pub venues: Vec<VenueArg>,
    /// First time: 2025-01-01, 2025-01-01T12:00:00Z or unix milliseconds (inclusive)
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Last time, same forms (inclusive) [default: now]
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// At most N rows: the first N with --from, otherwise the latest N
    #[arg(short = 'n', long = "limit", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
    /// Bar interval (bars only): 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 1w 1M
    #[arg(long, value_name = "INTERVAL", value_parser = parse_interval)]
    pub interval: Option<BarInterval>,
    /// Bar price (bars only): last (trades) or mark [default: last]
    #[arg(long, value_name = "PRICE", value_parser = parse_bar_price)]
    pub price: Option<BarPrice>,
    /// Bars only: list the missing bars (grid intervals with no stored bar) instead of the bars
    #[arg(long)]
    pub gaps: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub catalog: CatalogArg,
}

/// `export` flags.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to export
    #[arg(value_enum)]
    pub data: ExportData,
    /// Symbols, in the same forms as `query` (BTCUSDT-PERP, BTCUSDT, BTC/USDT:USDT, BTC,
    /// BTCUSDT-PERP.BINANCE)
    #[arg(value_parser = parse_symbol)]
    pub symbols: Vec<SymbolInput>,
    /// Every instrument with stored data of this kind (of the -e venues)
    #[arg(long, conflicts_with = "symbols")]
    pub all: bool,
    /// Only these venues [default: every venue]
    #[arg(short = 'e', long = "exchange", value_enum, value_name = "VENUE")]
    pub venues: Vec<VenueArg>,
    /// First time (ts_init): 2025-01-01, 2025-01-01T12:00:00Z or unix milliseconds (inclusive)
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Last time, same forms (inclusive; a bare date is the end of that day) [default: now]
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Bar interval (bars only): 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 1w 1M
    #[arg(long, value_name = "INTERVAL", value_parser = parse_interval)]
    pub interval: Option<BarInterval>,
    /// Bar price (bars only): last (trades) or mark [default: last]
    #[arg(long, value_name = "PRICE", value_parser = parse_bar_price)]
    pub price: Option<BarPrice>,
    /// The file to write, or with --partition the directory; `-` is stdout (CSV only)
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// File format
    #[arg(long, value_enum, default_value_t = ExportFormat::Parquet)]
    pub format: ExportFormat,
    /// Write a Hive-style tree PATH/venue=…/date=…/part-N.<format> instead of one file
    #[arg(long)]
    pub partition: bool,
    /// Exact numbers (rates, prices, volumes) as float64 instead of decimal128
    #[arg(long)]
    pub float: bool,
    /// Replace an existing --out
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub catalog: CatalogArg,
}

/// Record types `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportData {
    /// Open interest
    Oi,
    /// Funding rates (settled and live estimates)
    Funding,
    /// Liquidations
    Liquidations,
    /// OHLCV bars (needs --interval; --price last or mark)
    Bars,
    /// Mark prices
    Mark,
    /// Index (oracle) prices
    Index,
}

impl From<ExportData> for RecordKind {
    fn from(d: ExportData) -> RecordKind {
        match d {
            ExportData::Oi => RecordKind::OpenInterest,
            ExportData::Funding => RecordKind::FundingRate,
            ExportData::Liquidations => RecordKind::Liquidation,
            ExportData::Bars => RecordKind::Bar,
            ExportData::Mark => RecordKind::MarkPrice,
            ExportData::Index => RecordKind::IndexPrice,
        }
    }
}

/// Export file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Parquet (zstd), typed columns
    Parquet,
    /// CSV with a header line (RFC 4180)
    Csv,
}

impl ExportFormat {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Parquet => "parquet",
            ExportFormat::Csv => "csv",
        }
    }
}

fn parse_interval(s: &str) -> Result<BarInterval, String> {
    s.parse().map_err(|e: ccxt_model::BarError| e.to_string())
}

fn parse_bar_price(s: &str) -> Result<BarPrice, String> {
    s.parse().map_err(|e: ccxt_model::BarError| e.to_string())
}

/// Flags shared by `fetch-oi` and `fetch-funding`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Symbols, in the same forms as `query` (BTCUSDT-PERP, BTCUSDT, BTC/USDT:USDT, BTC, xyz:TSLA)
    #[arg(value_parser = parse_symbol)]
    pub symbols: Vec<SymbolInput>,
    /// Only these venues [default: every venue]
    #[arg(short = 'e', long = "exchange", value_enum, value_name = "VENUE")]
    pub venues: Vec<VenueArg>,
    /// Every trading perpetual of the selected venues
    #[arg(long)]
    pub all: bool,
    /// Fetch history from this time: 2025-01-01, 2025-01-01T12:00:00Z or unix milliseconds
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// History up to this time, inclusive [default: now]
    #[arg(long, value_name = "TIME", requires = "from")]
    pub to: Option<String>,
    /// Write to the catalog (merging, no duplicates) and print a summary instead of the rows
    #[arg(long)]
    pub store: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub catalog: CatalogArg,
}

/// `stream-liquidations` flags.
#[derive(Debug, Args)]
pub struct StreamArgs {
    /// Symbols, in the same forms as `query`
    #[arg(value_parser = parse_symbol)]
    pub symbols: Vec<SymbolInput>,
    /// Only these venues [default: every venue]
    #[arg(short = 'e', long = "exchange", value_enum, value_name = "VENUE")]
    pub venues: Vec<VenueArg>,
    /// Every perpetual of the selected venues
    #[arg(long)]
    pub all: bool,
    /// Write to the catalog (through a crash-safe spool)
    #[arg(long)]
    pub store: bool,
    /// Print only errors (and the final summary)
    #[arg(long)]
    pub quiet: bool,
    /// Output format of the printed liquidations
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Stop after this long: 90s, 15m, 2h, 1d
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    #[command(flatten)]
    pub catalog: CatalogArg,
}

/// A duration such as `90s`, `15m`, `2h`, `1d` or `1h30m` (`humantime`); zero is refused.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(s.trim()) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(format!(
            "invalid duration '{s}': must be longer than zero, e.g. 90s, 15m, 2h, 1d or 1h30m"
        )),
        Err(e) => Err(format!(
            "invalid duration '{s}' ({e}): use a number and a unit, e.g. 90s, 15m, 2h, 1d or 1h30m"
        )),
    }
}

/// `fetch-oi` flags.
#[derive(Debug, Args)]
pub struct FetchOiArgs {
    #[command(flatten)]
    pub common: FetchArgs,
    /// History bucket: 5m, 15m, 30m, 1h, 4h, 1d (history only: needs --from) [default: 1h]
    #[arg(long, value_parser = parse_period, requires = "from")]
    pub period: Option<OiPeriod>,
}

/// `fetch-bars` flags.
#[derive(Debug, Args)]
pub struct FetchBarsArgs {
    #[command(flatten)]
    pub common: FetchArgs,
    /// Bar interval: 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 1w 1M (1M is a month; see the
    /// table below for what each venue offers)
    #[arg(long, value_name = "INTERVAL")]
    pub interval: String,
    /// Price the bars aggregate: last (trades, with volume) or mark (the venue's mark price;
    /// not every venue has it: see the table below)
    #[arg(long, value_name = "PRICE", default_value = "last")]
    pub price: String,
}

fn parse_period(s: &str) -> Result<OiPeriod, String> {
    s.parse()
}

/// `catalog` subcommands.
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Rows, time range, files and bytes per type, venue and symbol
    Info {
        /// Output format
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
        #[command(flatten)]
        catalog: CatalogArg,
    },
    /// Merge small files into one file per instrument and UTC day (safe while nothing else writes)
    Compact {
        #[command(flatten)]
        catalog: CatalogArg,
    },
    /// Check the stored data: integrity (duplicates, overlaps, unsorted files, bad bars, zero
    /// OI, outliers, metadata) and completeness (holes in each dataset's cadence)
    #[command(after_help = VERIFY_HELP)]
    Verify(VerifyArgs),
    /// Write a small deterministic synthetic catalog to try the tools offline
    #[command(after_help = "\
Writes made-up but realistically shaped data (BTCUSDT-PERP and ETHUSDT-PERP on all three venues,
starting 2025-01-01): open interest, funding, liquidations, stream gaps, 1h trade and mark bars
(with two hours missing from Hyperliquid's BTC bars on the second day), mark and index prices.
This is how catalog.example/ is made:
  ccxt-cli catalog demo catalog.example --days 3")]
    Demo {
        /// Directory to create (must not exist or be empty)
        path: PathBuf,
        /// Days of data
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=31))]
        days: u32,
    },
}

const VERIFY_HELP: &str = "\
Examples:
  ccxt-cli catalog verify --catalog catalog.example
  ccxt-cli catalog verify BTCUSDT-PERP -e hyperliquid --from 2025-01-02 --to 2025-01-02
  ccxt-cli catalog verify --format json | jq '.[] | select(.kind == \"hole\")'
  ccxt-cli catalog verify --repair

One finding per row: kind, dataset, instrument, file, from, to, detail; a summary on stderr.
Integrity, per dataset directory (a file that cannot be read is a corrupt-file finding naming it):
  corrupt-file, temp-file, foreign-name   files that are not usable data or not named by us
  overlap                                 files of one dataset whose ts_init intervals overlap
  unsorted, outside-file                  rows not sorted by ts_init; rows outside the file name's interval
  duplicate                               the same row (or venue identity) stored twice, across files too
  bad-bar                                 bars failing the sanity rules (positive prices, low <= open, close
                                          <= high, volume >= 0, close on the interval grid, precision)
  non-positive-oi                         open interest zero or negative
  outlier                                 a value (OI, bar close, mark, index) whose distance from the median
                                          m of its W neighbours on each side is above K x 1.4826 x MAD of
                                          those neighbours AND above J x |m| (--outlier-window W,
                                          --outlier-k K, --outlier-min-jump J; a level shift is not one)
  missing-metadata                        schema metadata NautilusTrader needs (bar: bar_type, price_precision,
                                          size_precision; mark/index: instrument_id, price_precision;
                                          funding: instrument_id)
Completeness, only inside --from/--to (default: each dataset's own first..last row):
  hole, explained-hole                    missing bars of the interval grid; settled funding times missing at
                                          the instrument's interval; open interest history buckets and live
                                          snapshots missing (period = median spacing; a spacing above 1.5
                                          periods is a hole). explained-hole: during a recorded stream gap
  stream-gap                              a recorded stream gap of a venue in the range (not collected then)
--repair merges duplicates, overlaps, unsorted files and rows outside their file into sorted,
disjoint files (atomically, under the catalog's write lock), then verifies again; what remains
is listed. Exit codes: 0 clean, 1 problems found, 2 usage error.";

/// `catalog verify` flags.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Only these symbols (same forms as `query`) [default: every dataset]
    #[arg(value_parser = parse_symbol)]
    pub symbols: Vec<SymbolInput>,
    /// Only these venues [default: every venue]
    #[arg(short = 'e', long = "exchange", value_enum, value_name = "VENUE")]
    pub venues: Vec<VenueArg>,
    /// First time checked: 2025-01-01, 2025-01-01T12:00:00Z or unix milliseconds (inclusive)
    /// [default: each dataset's first row]
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Last time checked, same forms (inclusive) [default: each dataset's last row]
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Neighbours on each side the outlier rule compares a value with
    #[arg(long, value_name = "W", default_value_t = 5, value_parser = clap::value_parser!(u16).range(2..=1000))]
    pub outlier_window: u16,
    /// Robust deviations (1.4826 x MAD) from the neighbours' median that make an outlier
    #[arg(long, value_name = "K", default_value_t = 10.0, value_parser = parse_positive)]
    pub outlier_k: f64,
    /// Smallest distance from the neighbours' median, relative to it, that makes an outlier
    #[arg(long, value_name = "J", default_value_t = 0.2, value_parser = parse_positive)]
    pub outlier_min_jump: f64,
    /// Merge duplicates and overlapping or unsorted files, then verify again
    #[arg(long)]
    pub repair: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub catalog: CatalogArg,
}

fn parse_positive(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not a positive number")),
    }
}

/// Record types as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataArg {
    /// Open interest
    Oi,
    /// Funding rates (settled and live estimates)
    Funding,
    /// Liquidations
    Liquidations,
    /// Stretches of time a stream did not cover (per venue; no symbol)
    Gaps,
    /// OHLCV bars (needs --interval; --price last or mark)
    Bars,
    /// Mark prices
    Mark,
    /// Index (oracle) prices
    Index,
}

impl From<DataArg> for RecordKind {
    fn from(d: DataArg) -> RecordKind {
        match d {
            DataArg::Oi => RecordKind::OpenInterest,
            DataArg::Funding => RecordKind::FundingRate,
            DataArg::Liquidations => RecordKind::Liquidation,
            DataArg::Gaps => RecordKind::Gap,
            DataArg::Bars => RecordKind::Bar,
            DataArg::Mark => RecordKind::MarkPrice,
            DataArg::Index => RecordKind::IndexPrice,
        }
    }
}

/// A venue as typed on the command line (`-e`): one of the registry's venues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VenueArg(pub Venue);

impl ValueEnum for VenueArg {
    fn value_variants<'a>() -> &'a [Self] {
        static VARIANTS: std::sync::LazyLock<Vec<VenueArg>> = std::sync::LazyLock::new(|| {
            crate::registry::REGISTRY
                .iter()
                .map(|d| VenueArg(d.venue()))
                .collect()
        });
        &VARIANTS
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let title = crate::registry::descriptor(self.0).title();
        Some(clap::builder::PossibleValue::new(self.0.as_str()).help(title))
    }
}

impl From<VenueArg> for Venue {
    fn from(v: VenueArg) -> Venue {
        v.0
    }
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned table for people
    Table,
    /// One JSON array
    Json,
    /// One JSON object per line
    Ndjson,
    /// CSV with a header line
    Csv,
}

fn parse_symbol(s: &str) -> Result<SymbolInput, String> {
    SymbolInput::parse(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flags_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_are_read_by_humantime() {
        let secs = |s| parse_duration(s).map(|d| d.as_secs());
        assert_eq!(secs("90s"), Ok(90));
        assert_eq!(secs("15m"), Ok(900));
        assert_eq!(secs("2h"), Ok(7200));
        assert_eq!(secs("1d"), Ok(86_400));
        assert_eq!(secs("1h30m"), Ok(5400));
        assert_eq!(secs(" 10m "), Ok(600));
        assert_eq!(secs("1.5h"), Ok(5400));
        for bad in ["", "90", "15x", "-1s", "abc", "0s", "2 fortnights"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(
                err.contains(&format!("'{bad}'")) && err.contains("90s, 15m, 2h"),
                "{bad}: {err}"
            );
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }
}
