//! The SMTP client side of the benchmarks that feed a journal listener
//! (included by path): one connection, one message at a time.

/// The journaling server's side of one SMTP connection, as Exchange and
/// Postfix behave: the end of data goes out with the last bytes of the
/// message, and Nagle is off. (lettre's client writes the final `.` on
/// its own, which Nagle holds until the server's delayed ACK: 40 ms a
/// message on loopback, which measured lettre, not mailseal.)
pub struct Smtp {
    reader: std::io::BufReader<std::net::TcpStream>,
    writer: std::net::TcpStream,
}

impl Smtp {
    /// Connects to 127.0.0.1:`port` and says EHLO.
    pub fn connect(port: u16) -> Smtp {
        let writer = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        writer.set_nodelay(true).unwrap();
        let mut smtp = Smtp {
            reader: std::io::BufReader::new(writer.try_clone().unwrap()),
            writer,
        };
        smtp.expect("greeting", 220);
        smtp.command("EHLO exchange.example.com", 250);
        smtp
    }

    /// Reads one (multi-line) reply and checks its code.
    fn expect(&mut self, what: &str, code: u16) {
        use std::io::BufRead;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            assert!(
                line.starts_with(&code.to_string()),
                "{what}: expected {code}, got {line:?}"
            );
            if line.as_bytes().get(3) != Some(&b'-') {
                return;
            }
        }
    }

    fn command(&mut self, line: &str, code: u16) {
        use std::io::Write;
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
        self.expect(line, code);
    }

    /// Sends message `i` (for the error message) and waits for its `250`.
    pub fn send(&mut self, message: &[u8], i: u64) {
        use std::io::Write;
        let d = "example.com";
        self.command(&format!("MAIL FROM:<journal-agent@{d}> BODY=8BITMIME"), 250);
        self.command(&format!("RCPT TO:<journal@archive.{d}>"), 250);
        self.command("DATA", 354);
        let mut data = Vec::with_capacity(message.len() + 64);
        for line in message.split_inclusive(|&b| b == b'\n') {
            if line.first() == Some(&b'.') {
                data.push(b'.');
            }
            data.extend_from_slice(line);
        }
        if !data.ends_with(b"\r\n") {
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(b".\r\n");
        self.writer.write_all(&data).unwrap();
        self.expect(&format!("message {i}"), 250);
    }

    /// Says QUIT.
    pub fn quit(mut self) {
        self.command("QUIT", 221);
    }
}
