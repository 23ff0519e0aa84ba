//! Explaining an input that is in no split: an image file (any size, converted to the task's
//! grey levels and resized) for an image run, or a sentence for a text run.
//!
//! Run: `GENREP_DATA=/path/to/datasets cargo run --release --example explain_new_input -- RUN_DIR IMAGE.png`
//! or `... -- RUN_DIR "a sentence to explain"` for a text run (e.g. one trained on agnews).

use genrep::data::{DataDir, Inputs};
use genrep::explain::{Explainer, Polarity, Target};
use genrep::trainer::LoadedRun;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(run_dir), Some(input)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: explain_new_input RUN_DIR (IMAGE.png | \"a sentence\")");
    };
    let data = DataDir::resolve(None)?;
    let run = LoadedRun::open(&run_dir, &data, None)?;
    let example = match &run.task.train.inputs {
        Inputs::Images { channels, height, width, .. } => {
            let img = image::open(&input).map_err(|e| anyhow::anyhow!("{input}: {e}"))?;
            let img = img.resize_exact(*width as u32, *height as u32, image::imageops::FilterType::Triangle);
            let pixels: Vec<u8> = match channels {
                1 => img.to_luma8().into_raw(),
                // Channel-major (all red, then green, then blue), as the task stores images.
                _ => {
                    let rgb = img.to_rgb8();
                    (0..3).flat_map(|c| rgb.pixels().map(move |p| p[c])).collect()
                }
            };
            run.task.image_input(&pixels, 0)?
        }
        Inputs::Tokens { .. } => run.task.text_input(&data, &input, 0)?,
        Inputs::Features { .. } => {
            anyhow::bail!("this example reads an image or a sentence; the run has feature vectors")
        }
    };
    let explainer = Explainer::from_run(&run)?;
    let (attrs, _) = explainer.explain_inputs("representer", &example, Target::Predicted)?;
    let a = &attrs[0];
    let names = &run.task.class_names;
    println!("{input}: predicted {}, s(x) = {:.3}, sum phi = {:.3}", names[a.explained_class], a.score, a.total());
    for (title, pol) in [("proponents", Polarity::Proponents), ("opponents", Polarity::Opponents)] {
        for r in a.top_k(3, pol) {
            println!("  {title}: train #{} ({}) phi {:+.4}", r.index, names[run.task.train.labels[r.index]], r.phi);
        }
    }
    Ok(())
}
