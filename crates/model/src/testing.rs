//! Two made-up venues for this crate's tests: `alpha` (ids `BTCUSDT-PERP.ALPHA`) and `beta`
//! (one coin per base, ids `BTC-USD.BETA`, its own `b~COIN` form).

use crate::symbol::{Market, NativeForm, is_alnum, is_upper_alnum};
use crate::venue::{VenueGrammar, install};
use crate::{Quote, Venue};

pub(crate) const ALPHA: Venue = Venue::new(&Alpha);
pub(crate) const BETA: Venue = Venue::new(&Beta);

pub(crate) fn install_test_venues() {
    install(&[ALPHA, BETA]).expect("one list per test binary");
}

struct Alpha;

impl VenueGrammar for Alpha {
    fn name(&self) -> &'static str {
        "alpha"
    }
    fn nautilus_venue(&self) -> &'static str {
        "ALPHA"
    }
    fn id_symbol(&self, native: &str) -> String {
        format!("{native}-PERP")
    }
    fn native_of_id(&self, symbol: &str) -> Result<String, String> {
        symbol
            .strip_suffix("-PERP")
            .filter(|n| is_upper_alnum(n))
            .map(str::to_string)
            .ok_or_else(|| "alpha ids look like BTCUSDT-PERP.ALPHA".to_string())
    }
    fn market_native(&self, market: &Market) -> Result<String, String> {
        Ok(format!("{}{}", market.base, market.quote.as_str()))
    }
}

struct Beta;

impl VenueGrammar for Beta {
    fn name(&self) -> &'static str {
        "beta"
    }
    fn nautilus_venue(&self) -> &'static str {
        "BETA"
    }
    fn id_symbol(&self, native: &str) -> String {
        format!("{native}-USD")
    }
    fn native_of_id(&self, symbol: &str) -> Result<String, String> {
        let coin = symbol
            .strip_suffix("-USD")
            .ok_or_else(|| "beta ids look like BTC-USD.BETA".to_string())?;
        match coin.strip_prefix("b~") {
            Some(c) if is_alnum(c) => Ok(coin.to_string()),
            None if is_alnum(coin) => Ok(coin.to_string()),
            _ => Err("bad beta coin".to_string()),
        }
    }
    fn market_native(&self, market: &Market) -> Result<String, String> {
        Ok(market.base.clone())
    }
    fn native_examples(&self) -> &'static str {
        "beta b~TSLA"
    }
    fn recognise(&self, typed: &str) -> Option<Result<NativeForm, String>> {
        let coin = typed.strip_prefix("b~")?;
        Some(if is_alnum(coin) {
            Ok(listed(coin))
        } else {
            Err("beta symbols look like b~COIN".to_string())
        })
    }
    fn recognise_unquoted(&self, upper: &str) -> Option<NativeForm> {
        let base = upper.strip_suffix('X').filter(|b| !b.is_empty())?;
        Some(NativeForm::Market {
            base: base.to_string(),
            quote: Some(Quote::Usdc),
        })
    }
    fn recognise_ccxt_base(&self, base: &str) -> Option<NativeForm> {
        let coin = base.strip_prefix("B-").filter(|c| is_alnum(c))?;
        Some(listed(coin))
    }
}

fn listed(coin: &str) -> NativeForm {
    NativeForm::Listed {
        native: format!("b~{coin}"),
        elsewhere: "only on beta".to_string(),
    }
}
