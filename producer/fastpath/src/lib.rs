//! cryptostream_fastpath: native code for the producer's per-trade work (README.md).

pub mod exchange_match;
pub mod recording;

#[cfg(feature = "python")]
mod python {
    use crate::recording::Line;
    use pyo3::prelude::*;
    use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
    use std::collections::HashMap;

    /// Product ids kept as Python strings, beyond which new ones are not remembered (a feed
    /// has a handful; the bound only guards against a feed that invents them).
    const MAX_PRODUCTS: usize = 10_000;

    /// MatchNormalizer(exchange).records(messages) -> [(product_id, trade_id, value) | None]
    ///
    /// One result per message, in order. A message is a tuple whose first two items are
    /// ``received_at`` and the raw text (more items are ignored). A canonical Coinbase Exchange
    /// match or last_match gives its trade record for ``exchange``; anything else, a raw that
    /// is not ``str`` included, gives None: the checked path normalizes or dead-letters it.
    /// Whole batches, because a call per message would cost more than the normalizing. Each
    /// product id comes back as the same string object every time, so Python hashes it once
    /// (it is a dict key downstream) and allocates nothing for it.
    #[pyclass]
    struct MatchNormalizer {
        exchange: String,
        products: HashMap<String, Py<PyString>>,
    }

    #[pymethods]
    impl MatchNormalizer {
        #[new]
        fn new(exchange: String) -> Self {
            Self {
                exchange,
                products: HashMap::new(),
            }
        }

        fn records<'py>(&mut self, messages: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
            let records = messages
                .try_iter()?
                .map(|message| self.record(&message?))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(messages.py(), records)
        }
    }

    impl MatchNormalizer {
        fn record<'py>(&mut self, message: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
            let py = message.py();
            let message = message.cast::<PyTuple>()?;
            let received_at = message.get_borrowed_item(0)?;
            let raw = message.get_borrowed_item(1)?;
            let (Ok(received_at), Ok(raw)) =
                (received_at.cast::<PyString>(), raw.cast::<PyString>())
            else {
                return Ok(py.None().into_bound(py));
            };
            let raw = raw.to_str()?;
            match crate::exchange_match::normalize(raw, received_at.to_str()?, &self.exchange) {
                Some(record) => {
                    let product_id = self.product(py, record.product_id);
                    Ok((product_id, record.trade_id, record.value)
                        .into_pyobject(py)?
                        .into_any())
                }
                None => Ok(py.None().into_bound(py)),
            }
        }

        fn product<'py>(&mut self, py: Python<'py>, product_id: &str) -> Bound<'py, PyString> {
            if let Some(known) = self.products.get(product_id) {
                return known.bind(py).clone();
            }
            let fresh = PyString::new(py, product_id);
            if self.products.len() < MAX_PRODUCTS {
                self.products
                    .insert(product_id.to_owned(), fresh.clone().unbind());
            }
            fresh
        }
    }

    /// split_recording(buffer, at_end) -> (entries, others, lines, consumed)
    ///
    /// The complete lines at the start of ``buffer`` (bytes of a recording after its header;
    /// all of it when ``at_end``): ``entries`` has ``(received_at, raw, None)`` for each message
    /// line and None for each other line, which ``others`` lists as ``(index in entries, line
    /// number from 0 within the buffer, the line as bytes)``; blank lines are left out.
    /// ``lines`` counts the lines (blank ones too), ``consumed`` the bytes they took.
    #[pyfunction]
    fn split_recording<'py>(
        py: Python<'py>,
        buffer: &[u8],
        at_end: bool,
    ) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>, usize, usize)> {
        let (lines, consumed) = crate::recording::split_lines(buffer, at_end);
        let count = lines.len();
        let mut entries = Vec::with_capacity(count);
        let mut others = Vec::new();
        for (number, line) in lines.into_iter().enumerate() {
            match line {
                Line::Message { received_at, raw } => {
                    entries.push((received_at, raw, py.None()).into_pyobject(py)?.into_any())
                }
                Line::Other(text) => {
                    others.push((entries.len(), number, PyBytes::new(py, text)));
                    entries.push(py.None().into_bound(py));
                }
                Line::Blank => {}
            }
        }
        Ok((
            PyList::new(py, entries)?,
            PyList::new(py, others)?,
            count,
            consumed,
        ))
    }

    #[pymodule]
    fn cryptostream_fastpath(module: &Bound<'_, PyModule>) -> PyResult<()> {
        module.add_class::<MatchNormalizer>()?;
        module.add_function(wrap_pyfunction!(split_recording, module)?)
    }
}
